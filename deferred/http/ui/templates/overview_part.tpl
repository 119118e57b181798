<section class="card" aria-labelledby="limits-heading">
  <div class="card-head">
    <h2 id="limits-heading">Task types</h2>
    <p class="usage usage-global" data-usage="global">
      <span class="usage-label">All tasks:</span> <strong>{{total.text}}</strong>
      <meter min="0" max="{{total.limit}}" value="{{total.running}}" aria-label="global limit in use"></meter>
    </p>
  </div>
  % if not task_types:
  <p class="empty">No task types are registered. Define one with <code>@deferred.task</code> in your tasks file and start the server with it.</p>
  % else:
  <div class="table-wrap">
  <table class="task-types">
    <thead><tr><th scope="col">Name</th><th scope="col">Params</th><th scope="col">Limit and usage</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>
    % for item in task_types:
    % use = usage[item.name]
    <tr data-task-type="{{item.name}}"{{!' data-paused' if item.paused else ''}}>
      <td><a class="task-name" href="{{root}}/task-types/{{ui.path_part(item.name)}}"><strong>{{item.name}}</strong></a>
% include('_pause', item=item, part='badge')
        % if item.description:
        <div class="help">
% include('_description', text=item.description)
        </div>
        % end
        % if item.schedule:
        <div class="schedule">⟳ {{item.schedule}}, next
% include('_time', moment=item.next_run_at)
        </div>
        % end
      </td>
      <td class="schema-summary">
% include('_params_short', item=item)
      </td>
      <td class="usage" data-usage="{{item.name}}">
        {{use.text}}
        % if use.limit is not None:
        <meter min="0" max="{{use.limit}}" value="{{use.running}}" aria-label="limit of {{item.name}} in use"></meter>
        % else:
        <span class="muted">(no limit of its own)</span>
        % end
      </td>
      <td>
      % if get('can_submit'):
      <a class="button button-small" href="{{root}}/launch?task={{item.name}}">Launch</a>
      % end
% include('_pause', item=item, part='form')
      </td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>

<section class="card" aria-labelledby="running-heading">
  <div class="card-head"><h2 id="running-heading">Running <span class="count">{{len(running)}}</span></h2></div>
  % include('_records', records=running, running=True, empty=('Nothing is running. <a href="' + root + '/launch">Launch a task</a> to see it here.') if get('can_submit') else 'Nothing is running.')
</section>

<section class="card" aria-labelledby="recent-heading">
  <div class="card-head"><h2 id="recent-heading">Recently finished</h2><a href="{{root}}/tasks">All finished tasks →</a></div>
  % include('_records', records=recent, running=False, empty='No task has finished yet.')
</section>
