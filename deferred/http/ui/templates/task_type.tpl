% rebase('layout', title=task_type.name, section='overview')
<p class="breadcrumbs"><a href="{{root}}/">Overview</a> › task type</p>
<h1 class="task-type-title"><code>{{task_type.name}}</code>
% if get('can_submit'):
<a class="button button-small" href="{{root}}/launch?task={{ui.path_part(task_type.name)}}">Launch</a>
% end
</h1>
% if task_type.description:
<p class="lead">
% include('_description', text=task_type.description)
</p>
% end
<section class="card" aria-labelledby="about-heading">
  <div class="card-head"><h2 id="about-heading">Limits and schedule</h2></div>
  <dl class="facts">
    <dt>Limit and usage</dt>
    <dd data-usage="{{task_type.name}}">{{usage.text}}
    % if usage.limit is None:
      <span class="muted">(no limit of its own)</span>
    % end
    </dd>
    <dt>Schedule</dt>
    <dd>
    % if task_type.schedule:
      ⟳ {{task_type.schedule}}, next
% include('_time', moment=task_type.next_run_at)
    % else:
      <span class="muted">runs when submitted</span>
    % end
    </dd>
    <dt>Finished runs kept</dt>
    <dd>{{ui.duration_text(task_type.keep_s) if task_type.keep_s is not None else 'for ever'}}</dd>
  </dl>
</section>
% include('_stats_section')
<section class="card" aria-labelledby="schema-heading">
  <div class="card-head"><h2 id="schema-heading">Params</h2></div>
  <p class="schema-summary">
% include('_params_short', item=task_type)
  </p>
  % if task_type.json_schema:
  <details><summary>JSON Schema</summary><pre class="schema">{{ui.json_text(task_type.json_schema)}}</pre></details>
  % end
</section>
<section class="card" aria-labelledby="recent-heading">
  <div class="card-head"><h2 id="recent-heading">Recent tasks</h2><a href="{{root}}/tasks?status=all&amp;task_name={{ui.path_part(task_type.name)}}">All tasks of this type →</a></div>
  <div data-live-src="{{root}}/ui/parts/task-type/{{ui.path_part(task_type.name)}}/recent">
% include('_records', records=recent, running=False, empty='No task of this type is stored.')
  </div>
</section>
