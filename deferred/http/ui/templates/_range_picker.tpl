% # The range and task type a dashboard section shows: `view`, `ranges`, `names`, `base` (the
% # page's path) and `pick_name` (offer a task type choice).
<form class="range-picker" method="get" action="{{base}}">
  <span class="ranges" role="group" aria-label="Range">
  % for item in ranges:
  % query = ui.stats_query(item.key, view.name if pick_name else None)
  <a href="{{base}}{{query}}" class="range {{'range-current' if item.key == view.range.key else ''}}" {{!'aria-current="true"' if item.key == view.range.key else ''}}>{{item.label}}</a>
  % end
  </span>
  % if pick_name:
  <input type="hidden" name="range" value="{{view.range.key}}">
  <label>Task type
    <select name="task_name">
      <option value="" {{!'selected' if view.name is None else ''}}>all</option>
      % for name in names:
      <option value="{{name}}" {{!'selected' if view.name == name else ''}}>{{name}}</option>
      % end
    </select>
  </label>
  <button type="submit" class="button-small">Show</button>
  % end
</form>
