% rebase('layout', title='Tasks', section='tasks', scripts=('bulk.js',) if get('can_submit') else ())
<section class="card" aria-labelledby="tasks-heading">
  <div class="card-head"><h1 id="tasks-heading">Tasks</h1></div>
  % if get('notice'):
  <p class="notice" role="status">{{notice}}</p>
  % end
  <form class="filters" method="get" action="{{root}}/tasks" role="search">
    <label>Status
      <select name="status">
      % for choice in status_choices:
        <option value="{{choice}}" {{!'selected' if choice == filter.status else ''}}>{{choice if choice.isupper() else choice.capitalize()}}</option>
      % end
      </select>
    </label>
    <label>Task type
      <select name="task_name">
        <option value="">Any</option>
      % for name in task_names:
        <option value="{{name}}" {{!'selected' if name == filter.task_name else ''}}>{{name}}</option>
      % end
      % if filter.task_name and filter.task_name not in task_names:
        <option value="{{filter.task_name}}" selected>{{filter.task_name}}</option>
      % end
      </select>
    </label>
    <label class="grow">Text
      <input type="search" name="q" value="{{filter.text}}" maxlength="200" placeholder="id, params, result or error">
    </label>
    <button type="submit">Filter</button>
    % if filter.is_filtered:
    <a href="{{root}}/tasks">Clear</a>
    % end
  </form>
  % if get('can_submit'):
  % include('_bulk_bar')
  <form id="row-form" method="post" action="{{root}}/tasks" hidden>
    <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
    <input type="hidden" name="next" value="/tasks{{'?' + filter.query(cursor=filter.before_id) if filter.query(cursor=filter.before_id) else ''}}">
  </form>
  % end
  % if filter.before_id is None:
  <div data-live-src="{{root}}/ui/parts/tasks{{'?' + filter.query() if filter.query() else ''}}" data-bulk-live>
  % else:
  <div data-bulk-live>
  % end
  % include('tasks_part')
  </div>
</section>
