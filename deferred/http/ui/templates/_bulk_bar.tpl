% # The task list's bulk actions: its rows' boxes and the page's box belong to this form
% # (form="bulk-form"), which posts to the confirmation page.
<form id="bulk-form" class="bulk-bar" method="post" action="{{root}}/tasks/bulk" aria-label="Act on the selected tasks">
  <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
  <input type="hidden" name="status" value="{{filter.status}}">
  <input type="hidden" name="task_name" value="{{filter.task_name}}">
  <input type="hidden" name="q" value="{{filter.text}}">
  % if matching:
  <label class="select-matching"><input type="checkbox" name="scope" value="matching" data-select-matching>
    All {{'{:,}+'.format(count_at_most) if matching > count_at_most else '{:,}'.format(matching)}} that match this filter</label>
  % end
  <span class="selected-count muted" data-selected-count aria-live="polite"></span>
  <span class="bulk-buttons">
    <button type="submit" name="action" value="cancel" class="button-small" data-bulk-action>Cancel</button>
    <button type="submit" name="action" value="retry" class="button-small" data-bulk-action>Retry</button>
    % if get('can_admin'):
    <button type="submit" name="action" value="delete" class="button-small danger" data-bulk-action>Delete</button>
    % end
  </span>
  <span class="muted paused-note" data-paused-note hidden>Live updates are paused while tasks are selected.</span>
</form>
