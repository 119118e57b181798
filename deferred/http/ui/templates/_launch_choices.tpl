% # /launch with no task chosen: every task type, its description and params, a link to its form.
<p class="empty">Pick a task type to launch.</p>
<ul class="launch-choices">
% for item in task_types:
  <li data-task-type="{{item.name}}">
    <a class="task-name" href="{{root}}/launch?task={{ui.path_part(item.name)}}">{{item.name}}</a>
    % if item.description:
    <div class="help">
% include('_description', text=item.description)
    </div>
    % end
    <div class="schema-summary">
% include('_params_short', item=item)
    </div>
  </li>
% end
</ul>
