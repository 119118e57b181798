% finished = filter.status in ('finished', 'SUCCEEDED', 'FAILED')
% empty = ('No tasks match these filters. <a href="' + root + '/tasks">Clear the filters</a>.') if filter.is_filtered else ('No task has finished yet. <a href="' + root + '/launch">Launch one</a>.' if get('can_submit') else 'No task has finished yet.')
% if filter.before_id is not None and not records:
%   empty = 'No older tasks. <a href="' + root + '/tasks' + ('?' + filter.query() if filter.query() else '') + '">Back to the newest</a>.'
% end
% selectable = bool(get('can_submit')) and bool(records)
% if selectable:
<label class="select-page"><input type="checkbox" name="page_ids" value="{{','.join(str(record.id) for record in records)}}" form="bulk-form" data-select-page> Select all {{len(records)}} on this page</label>
% end
% include('_records', records=records, running=filter.status == 'RUNNING', empty=empty, selectable=selectable)
<nav class="pager" aria-label="Pages">
% if filter.before_id is not None:
  <a href="{{root}}/tasks{{'?' + filter.query() if filter.query() else ''}}">← Newest</a>
% end
% if older is not None:
  <a href="{{root}}/tasks?{{filter.query(cursor=older)}}" rel="next">Older →</a>
% end
</nav>
