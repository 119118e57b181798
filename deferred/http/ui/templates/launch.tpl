% rebase('layout', title='Launch' + (' ' + chosen.name if chosen else ''), section='launch', scripts=('forms.js', 'launch.js'))
% where = getattr(error, 'where', '') if error is not None else ''
% params_error = error is not None and (where.startswith('$') or where == 'params')
% email_error = error is not None and where == 'email'
% option_error = error is not None and where in ('delay_s', 'body.delay_s', 'priority', 'body.priority')
% other_error = error is not None and not params_error and not email_error and not option_error
<section class="card" aria-labelledby="launch-heading">
  <div class="card-head"><h1 id="launch-heading">Launch a task</h1></div>
  <div class="launch">
    <nav class="type-picker" aria-label="Task types">
    % if not task_types:
      <p class="empty">No task types are registered. Define one with <code>@deferred.task</code> in your tasks file.</p>
    % end
    % for item in task_types:
      <a href="{{root}}/launch?task={{item.name}}" {{!'aria-current="page"' if chosen is not None and chosen.name == item.name else ''}}>{{item.name}}</a>
    % end
    </nav>
    <div class="launch-main">
    % if chosen is None:
      % if other_error:
      <p class="form-error" role="alert">error {{int(error.code)}}: {{str(error)}}</p>
      % end
      % if task_types:
      % include('_launch_choices')
      % end
    % else:
      <form id="launch-form" method="post" action="{{root}}/launch" novalidate
            data-api="{{root}}/api/tasks" data-task-url="{{root}}/tasks/">
        <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
        <input type="hidden" name="task_name" value="{{chosen.name}}">
        <h2 class="task-name">{{chosen.name}}</h2>
        % if chosen.description:
        <p class="help">
% include('_description', text=chosen.description)
        </p>
        % end
        % if chosen.limit is not None:
        <p class="muted">At most {{chosen.limit}} run at once.</p>
        % end
        <div class="tabs js-only" role="tablist" aria-label="How to give the params">
          <button type="button" role="tab" id="tab-form" data-tab="form" aria-controls="panel-form" aria-selected="true">Form</button>
          <button type="button" role="tab" id="tab-json" data-tab="json" aria-controls="panel-json" aria-selected="false">JSON</button>
        </div>
        <div class="tab-panel js-only" id="panel-form" role="tabpanel" aria-labelledby="tab-form" data-panel="form">
          <div class="schema-form" data-form-root>{{!form_html}}</div>
        </div>
        <div class="tab-panel" id="panel-json" role="tabpanel" aria-labelledby="tab-json" data-panel="json">
          <label for="params">Params as JSON</label>
          <textarea id="params" name="params" rows="8" spellcheck="false" autocomplete="off" placeholder="{}" aria-describedby="params-help params-error">{{params_text}}</textarea>
          <small class="help" id="params-help">A JSON object, as on the command line: <code>--params '{...}'</code>.</small>
          <p class="field-error" id="params-error" role="alert" {{!'' if params_error else 'hidden'}}>{{str(error) if params_error else ''}}</p>
        </div>
        <div class="field">
          <label for="email">Email the result to <span class="muted">(optional)</span></label>
          <input type="email" id="email" name="email" value="{{email}}" autocomplete="email" aria-describedby="email-error">
          <p class="field-error" id="email-error" role="alert" {{!'' if email_error else 'hidden'}}>{{str(error) if email_error else ''}}</p>
        </div>
        <details class="more-options" {{!'open' if (delay_s or priority) else ''}}>
          <summary>Later, or first</summary>
          <div class="field">
            <label for="delay_s">Start after (seconds) <span class="muted">(optional)</span></label>
            <input type="number" id="delay_s" name="delay_s" min="0" step="any" value="{{delay_s}}" aria-describedby="delay_s-error">
            <p class="field-error" id="delay_s-error" role="alert" {{!'' if error is not None and where in ('delay_s', 'body.delay_s') else 'hidden'}}>{{str(error) if error is not None and where in ('delay_s', 'body.delay_s') else ''}}</p>
          </div>
          <div class="field">
            <label for="priority">Priority <span class="muted">(higher first; default 0)</span></label>
            <input type="number" id="priority" name="priority" min="-1000" max="1000" step="1" value="{{priority}}" aria-describedby="priority-error">
            <p class="field-error" id="priority-error" role="alert" {{!'' if error is not None and where in ('priority', 'body.priority') else 'hidden'}}>{{str(error) if error is not None and where in ('priority', 'body.priority') else ''}}</p>
          </div>
        </details>
        <p class="form-error" id="form-error" role="alert" {{!'' if other_error else 'hidden'}}>{{('error ' + str(int(error.code)) + ': ' + str(error)) if other_error else ''}}</p>
        <div class="actions"><button type="submit" class="primary">Run {{chosen.name}}</button></div>
      </form>
    % end
    </div>
  </div>
</section>
