% # The live statistics: charts and, for all task types, the table per type.
% include('_charts')
% if view.name is None:
<h3 class="sub-heading">By task type, last {{view.range.label}}</h3>
% include('_type_stats')
% end
