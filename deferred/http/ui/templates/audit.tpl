% rebase('layout', title='Audit log', section='audit')
<section class="card" aria-labelledby="audit-heading">
  <div class="card-head">
    <h1 id="audit-heading">Audit log</h1>
    <span class="muted">every launch, cancel, retry, pause and resume over HTTP, and every login</span>
  </div>
  % if not entries:
  <p class="empty">Nothing has been done yet. Launches, cancels, retries, pauses and logins show up here.</p>
  % else:
  <div class="table-wrap">
  <table class="records audit">
    <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Task</th><th scope="col">From</th></tr></thead>
    <tbody>
    % for entry in entries:
    <tr data-action="{{entry.action.value}}">
      <td data-label="When">
% include('_time', moment=entry.at)
      </td>
      <td data-label="Who">{{entry.actor.name}} <span class="muted">{{entry.actor.role}}</span></td>
      <td data-label="What"><span class="audit-action audit-{{entry.action.value}}">{{entry.action.value.replace('_', ' ')}}</span>{{(' · ' + entry.detail) if entry.detail else ''}}</td>
      <td data-label="Task">
      % if entry.task_id is not None:
        <a href="{{root}}/tasks/{{entry.task_id}}">#{{entry.task_id}}</a> <span class="task-name">{{entry.task_name or ''}}</span>
      % elif entry.task_name:
        <span class="task-name">{{entry.task_name}}</span> <span class="muted">(the type)</span>
      % end
      </td>
      <td data-label="From"><code>{{entry.actor.address}}</code></td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % if older is not None:
  <p class="pager"><a class="button button-small" href="{{root}}/audit?cursor={{older}}">Older</a></p>
  % end
  % end
</section>
