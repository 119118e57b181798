% # A task list row's own Cancel or Retry: buttons of the list's one row form (tasks.tpl),
% # posted to the task's own route, which comes back to the list with a message.
% status = record.status.value
% if status in ('QUEUED', 'RUNNING') and not record.cancel_requested:
<button type="submit" form="row-form" formaction="{{root}}/tasks/{{record.id}}/cancel" class="button-small danger"{{!' title="Ask the running task to stop"' if status == 'RUNNING' else ''}}>Cancel</button>
% elif status in ('FAILED', 'CANCELLED', 'TIMED_OUT'):
<button type="submit" form="row-form" formaction="{{root}}/tasks/{{record.id}}/retry" class="button-small">Retry</button>
% elif record.cancel_requested and not record.status.is_terminal:
<span class="muted">asked to stop</span>
% end
