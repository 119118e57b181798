% # Per task type statistics over the chosen range: `view` (a StatsView) and `names` to list.
<div class="table-wrap">
<table class="type-stats">
  <thead><tr>
    <th scope="col">Task type</th>
    <th scope="col" class="num">Succeeded</th><th scope="col" class="num">Failed</th>
    <th scope="col" class="num">Cancelled</th><th scope="col" class="num">Timed out</th>
    <th scope="col" class="num">Failure rate</th>
    <th scope="col" class="num">p50</th><th scope="col" class="num">p95</th><th scope="col" class="num">Max</th>
    <th scope="col" class="num">Mean wait</th><th scope="col">Last failure</th>
  </tr></thead>
  <tbody>
  % for name in names:
  % tally = view.by_name.get(name)
  % failure = view.last_failures.get(name)
  <tr data-type-stats="{{name}}">
    <th scope="row"><a href="{{root}}/task-types/{{ui.path_part(name)}}">{{name}}</a></th>
    % if tally is None:
    <td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">0</td>
    <td class="num muted">–</td><td class="num muted">–</td><td class="num muted">–</td><td class="num muted">–</td><td class="num muted">–</td>
    % else:
    <td class="num" data-stat="succeeded">{{tally.outcomes['succeeded']}}</td>
    <td class="num" data-stat="failed">{{tally.outcomes['failed']}}</td>
    <td class="num" data-stat="cancelled">{{tally.outcomes['cancelled']}}</td>
    <td class="num" data-stat="timed_out">{{tally.outcomes['timed_out']}}</td>
    <td class="num" data-stat="failure-rate">{{ui.percent_text(tally.failure_rate)}}</td>
    <td class="num" data-stat="p50">{{ui.seconds_text(tally.percentile(0.5))}}</td>
    <td class="num" data-stat="p95">{{ui.seconds_text(tally.percentile(0.95))}}</td>
    <td class="num" data-stat="max">{{ui.seconds_text(tally.run_max_s if tally.runs else None)}}</td>
    <td class="num" data-stat="mean-wait">{{ui.seconds_text(tally.mean_wait_s)}}</td>
    % end
    <td class="last-failure">
    % if failure is not None:
      <a href="{{root}}/tasks/{{failure.task_id}}">#{{failure.task_id}}</a>
% include('_time', moment=failure.finished_at)
      <div class="error-text">{{ui.cut(failure.error, 120)[0]}}</div>
    % else:
      <span class="muted">none in this range</span>
    % end
    </td>
  </tr>
  % end
  </tbody>
</table>
</div>
