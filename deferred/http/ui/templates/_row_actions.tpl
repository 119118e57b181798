% # A task list row's own Cancel or Retry, back to the list (`back`) with a message.
% status = record.status.value
% if status in ('QUEUED', 'RUNNING') and not record.cancel_requested:
<form method="post" action="{{root}}/tasks/{{record.id}}/cancel" class="inline-form">
  <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
  <input type="hidden" name="next" value="{{back}}">
  <button type="submit" class="button-small danger" {{!'title="Ask the running task to stop"' if status == 'RUNNING' else ''}}>Cancel</button>
</form>
% elif status in ('FAILED', 'CANCELLED', 'TIMED_OUT'):
<form method="post" action="{{root}}/tasks/{{record.id}}/retry" class="inline-form">
  <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
  <input type="hidden" name="next" value="{{back}}">
  <button type="submit" class="button-small">Retry</button>
</form>
% elif record.cancel_requested and not record.status.is_terminal:
<span class="muted">asked to stop</span>
% end
