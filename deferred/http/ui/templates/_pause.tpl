% # A task type's pause on the overview: part 'badge' beside its name, 'form' among its actions.
% if part == 'badge' and item.paused:
<div class="paused-note"><span class="badge badge-paused" title="none of its tasks starts until it is resumed">paused</span>
<span class="muted">since
% include('_time', moment=item.paused_at)
{{(' by ' + item.paused_by) if item.paused_by else ''}}; its tasks wait</span></div>
% elif part == 'form' and get('can_admin'):
<form method="post" action="{{root}}/task-types/{{item.name}}/{{'resume' if item.paused else 'pause'}}" class="inline-form pause-form">
  <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
  <button type="submit" class="button-small{{'' if item.paused else ' danger'}}" aria-label="{{'Resume' if item.paused else 'Pause'}} {{item.name}}">{{'Resume' if item.paused else 'Pause'}}</button>
</form>
% end
