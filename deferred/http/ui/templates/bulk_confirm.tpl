% rebase('layout', title=title + ' tasks', section='tasks')
% will = preview.changed
% back_url = root + '/tasks' + ('?' + back if back else '')
<section class="card confirm-card" aria-labelledby="confirm-heading">
  <div class="card-head"><h1 id="confirm-heading">{{(title + ' ' + tasks_text(will) + '?') if will else ('Nothing to ' + action.value)}}</h1></div>
  <p>
  % if by_filter:
    All tasks that match this filter ({{filter_words}}): <strong>{{tasks_text(preview.matched)}}</strong>.
  % else:
    The selected tasks: <strong>{{tasks_text(preview.matched)}}</strong>{{(', and ' + tasks_text(preview.not_found) + ' no longer there') if preview.not_found else ''}}.
  % end
  </p>
  % if will:
  <p class="confirm-count"><strong>{{tasks_text(will)}} will be {{action.done}}</strong>{{(' (' + '{:,}'.format(preview.asked_to_stop) + ' of them running: asked to stop)') if preview.asked_to_stop else ''}}{{(', ' + '{:,}'.format(preview.skipped) + ' skipped: ' + rule) if preview.skipped else ''}}.</p>
  % if warning:
  <p class="error-text">{{warning}}</p>
  % end
  <form method="post" action="{{root}}/tasks/bulk/apply" class="confirm-form">
    <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
    <input type="hidden" name="action" value="{{action.value}}">
    <input type="hidden" name="status" value="{{filter.status}}">
    <input type="hidden" name="task_name" value="{{filter.task_name}}">
    <input type="hidden" name="q" value="{{filter.text}}">
    % if by_filter:
    <input type="hidden" name="scope" value="matching">
    % else:
    <input type="hidden" name="ids" value="{{ids}}">
    % end
    <button type="submit" class="primary{{' danger-primary' if action.value == 'delete' else ''}}">{{title}} {{tasks_text(will)}}</button>
    <a href="{{back_url}}">Back to the list</a>
  </form>
  % else:
  <p class="muted">None of them can be {{action.done}}: {{rule}}.</p>
  <p><a class="button" href="{{back_url}}">Back to the list</a></p>
  % end
</section>
