<section class="card task-detail" aria-labelledby="task-heading" data-status="{{record.status}}" {{!'data-live-final' if record.status.is_terminal else ''}}>
  <div class="card-head">
    <h1 id="task-heading">#{{record.id}} <span class="task-name">{{record.name}}</span></h1>
    <div class="head-actions">
    % include('_badge', status=record.status)
    % if get('can_submit') and not record.status.is_terminal and not record.cancel_requested:
    <form method="post" action="{{root}}/tasks/{{record.id}}/cancel" class="inline-form">
      <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
      <button type="submit" class="button-small danger">{{'Cancel' if record.status.value == 'QUEUED' else 'Ask to stop'}}</button>
    </form>
    % elif record.cancel_requested and not record.status.is_terminal:
    <span class="muted">asked to stop; it ends when the task next checks</span>
    % elif record.cancel_requested and record.status.value == 'SUCCEEDED':
    <span class="muted">asked to stop, finished anyway</span>
    % elif get('can_submit') and record.status.value in ('FAILED', 'CANCELLED', 'TIMED_OUT'):
    <form method="post" action="{{root}}/tasks/{{record.id}}/retry" class="inline-form">
      <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
      <button type="submit" class="button-small">Run again</button>
    </form>
    % end
    </div>
  </div>
  <dl class="facts">
    <dt>Created</dt><dd>
% include('_time', moment=record.created_at)
 <span class="muted">{{ui.exact_time(record.created_at)}}</span></dd>
    <dt>Started</dt><dd>
% include('_time', moment=record.started_at)
 <span class="muted">{{ui.exact_time(record.started_at)}}</span></dd>
    <dt>Finished</dt><dd>
% include('_time', moment=record.finished_at)
 <span class="muted">{{ui.exact_time(record.finished_at)}}</span></dd>
    <dt>{{'Took' if record.status.is_terminal else 'Running for'}}</dt><dd>{{ui.run_duration(record, now) or '—'}}</dd>
    % if record.run_at is not None:
    <dt>Not before</dt><dd>
% include('_time', moment=record.run_at)
 <span class="muted">{{ui.exact_time(record.run_at)}}</span></dd>
    % end
    % if record.priority:
    <dt>Priority</dt><dd>{{record.priority}}</dd>
    % end
    % if record.parent_id is not None:
    <dt>After</dt><dd><a href="{{root}}/tasks/{{record.parent_id}}">#{{record.parent_id}}</a></dd>
    % end
    % if record.children:
    <dt>Then</dt><dd>
    % for child in record.children:
      <a href="{{root}}/tasks/{{child}}">#{{child}}</a>
    % end
    </dd>
    % end
    % if record.chain_next:
    <dt>Chain</dt><dd>next, once this succeeds: {{' → '.join(step.task_name for step in record.chain_next)}}</dd>
    % end
    <dt>Attempts</dt><dd>{{record.attempts}}</dd>
    % if keep_until is not None:
    <dt>Kept until</dt><dd>
% include('_time', moment=keep_until)
 <span class="muted">{{ui.exact_time(keep_until)}}, then deleted with its files</span></dd>
    % end
    % if record.owner:
    <dt>Server</dt><dd>
    % if get('server') is not None:
      <a href="{{root}}/servers" class="server-name" title="server id {{record.owner}}">{{server.host}}</a> <span class="muted">pid {{server.pid}}</span>
    % else:
      <code>{{record.owner}}</code>
    % end
    </dd>
    % end
    <dt>Email</dt><dd>
    % delivery = record.email_delivery
    % if delivery is not None:
      <span class="email-state email-{{str(delivery.status).lower()}}">{{str(delivery.status).lower()}}</span> to {{delivery.recipient}}
      % if delivery.attempts:
      <span class="muted">after {{delivery.attempts}} attempt{{'' if delivery.attempts == 1 else 's'}}</span>
      % end
      % if delivery.sent_at is not None:
      <span class="muted">at {{ui.exact_time(delivery.sent_at)}}</span>
      % end
      % if delivery.last_error:
      <div class="error-text">{{delivery.last_error}}</div>
      % end
      % if str(delivery.status) == 'PENDING' and delivery.next_attempt_at is not None:
      <div class="muted">next attempt
% include('_time', moment=delivery.next_attempt_at)
      </div>
      % end
    % elif record.email:
      to {{record.email}}, <span class="muted">once the task finishes</span>
    % else:
      <span class="muted">none</span>
    % end
    </dd>
  </dl>
  % if record.progress is not None:
  <div class="progress-line">
    <progress max="100" value="{{record.progress.percent}}" aria-label="progress">{{record.progress.percent}} %</progress>
    <span class="num">{{'%.0f' % record.progress.percent}} %</span>
    % if record.progress.message:
    <span class="muted">{{record.progress.message}}</span>
    % end
  </div>
  % end
  <h2>Params</h2>
  <pre class="json">{{ui.json_text(record.params)}}</pre>
  % if record.status.value == 'TIMED_OUT':
  <p class="muted">Python cannot stop a thread: the task was asked to stop when its time limit
  passed, and its slot stayed taken until its code returned; what it returned then was dropped.</p>
  % end
  % if record.error is not None:
  <h2>Error</h2>
  <p class="error-text"><strong>{{record.error.type}}</strong>: {{record.error.message}}</p>
  % if record.error.traceback:
  <details><summary>Traceback</summary><pre>{{record.error.traceback}}</pre></details>
  % end
  % end
  % if record.status.value == 'SUCCEEDED':
  <h2>Result</h2>
  % text, was_cut = ui.cut(ui.result_text(record.result), ui.PAGE_RESULT_CHARS)
  % if text:
  <pre class="result">{{text}}</pre>
  % else:
  <p class="muted">The task returned nothing.</p>
  % end
  % if was_cut:
  <p><a href="{{root}}/tasks/{{record.id}}/result">The whole result</a></p>
  % end
  % end
  % if len(record.history) > 1 or (record.history and record.history[-1].status.value == 'QUEUED'):
  <h2>Attempts</h2>
  <div class="table-wrap">
  <table class="attempts">
    <thead><tr><th scope="col">#</th><th scope="col">Ended</th><th scope="col">When</th><th scope="col">Error</th></tr></thead>
    <tbody>
    % for attempt in record.history:
    <tr>
      <td class="num">{{attempt.number}}</td>
      <td>{{'failed, retried' if attempt.status.value == 'QUEUED' else str(attempt.status).lower()}}</td>
      <td>
% include('_time', moment=attempt.finished_at)
      </td>
      <td class="error-text">{{(attempt.error.type + ': ' + attempt.error.message) if attempt.error else ''}}</td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
  % if record.files:
  <h2>Files</h2>
  <ul class="file-list">
  % for stored in record.files:
    <li><a href="{{root}}/results/{{stored.token}}" download>{{stored.name}}</a> <span class="muted">{{stored.content_type}}, {{stored.size_bytes}} bytes</span></li>
  % end
  </ul>
  % end
  % if not record.status.is_terminal:
  <p class="muted live-note">This page updates by itself while the task {{'waits' if record.status.value == 'QUEUED' else 'runs'}}.</p>
  % end
  % if record.status.value == 'CANCELLED' and record.result is not None:
  <h2>What it left</h2>
  <pre class="result">{{ui.cut(ui.result_text(record.result), ui.PAGE_RESULT_CHARS)[0]}}</pre>
  % end
</section>
