% # A table of task records; `empty` is the text shown when there are none.
% if not records:
<p class="empty">{{!empty}}</p>
% else:
<div class="table-wrap">
<table class="records">
  % selectable = get('selectable', False)
  <thead><tr>{{!'<th scope="col" class="select-col"><span class="visually-hidden">Select</span></th>' if selectable else ''}}<th scope="col">Task</th><th scope="col">Status</th><th scope="col">When</th><th scope="col">{{'Running for' if running else 'Took'}}</th><th scope="col">{{'Params' if running else 'Result'}}</th>{{!'<th scope="col">Actions</th>' if selectable else ''}}</tr></thead>
  <tbody>
  % for record in records:
  <tr data-task-id="{{record.id}}">
    % if selectable:
    <td class="select-col" data-label="Select"><input type="checkbox" name="ids" value="{{record.id}}" form="bulk-form" aria-label="Select task #{{record.id}}" data-select-row></td>
    % end
    <td data-label="Task"><a href="{{root}}/tasks/{{record.id}}">#{{record.id}}</a> <span class="task-name">{{record.name}}</span></td>
    <td data-label="Status">
    % include('_badge', status=record.status)
    % if record.email_delivery is not None:
      <span class="email-state email-{{str(record.email_delivery.status).lower()}}" title="result email to {{record.email_delivery.recipient}}: {{record.email_delivery.status}}">✉ {{str(record.email_delivery.status).lower()}}</span>
    % elif record.email:
      <span class="email-state" title="result email to {{record.email}}">✉ pending</span>
    % end
    </td>
    <td data-label="When">
    % include('_when', record=record)
    </td>
    <td class="num" data-label="{{'Running for' if running else 'Took'}}">{{ui.run_duration(record, now)}}</td>
    <td class="preview" data-label="{{'Params' if running else 'Result'}}">
    % if running:
      % if record.progress is not None:
      <progress max="100" value="{{record.progress.percent}}" aria-label="progress">{{record.progress.percent}} %</progress> {{'%.0f' % record.progress.percent}} % {{record.progress.message or ''}}<br>
      % end
      <code>{{ui.cut(ui.compact_json(record.params), ui.LIST_RESULT_CHARS)[0]}}</code>
    % elif record.error is not None:
      <span class="error-text">{{record.error.type}}: {{listing.list_error(record.error.message)}}</span>
    % else:
      % text, was_cut = listing.list_result(record.result)
      <span class="result-text">{{text}}</span>
      % if was_cut:
      <a href="{{root}}/tasks/{{record.id}}">whole result</a>
      % end
    % end
    % if record.files:
      <span class="files">
      % for stored in record.files:
        <a href="{{root}}/results/{{stored.token}}" download>{{stored.name}}</a>
      % end
      </span>
    % end
    </td>
    % if selectable:
    <td class="row-actions" data-label="Actions">
    % include('_row_actions', record=record)
    </td>
    % end
  </tr>
  % end
  </tbody>
</table>
</div>
% end
