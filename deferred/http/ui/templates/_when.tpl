% # The time a list row shows: what fits its status (finished, started, may start, created).
% when = listing.row_time(record, now)
<span class="when-label">{{when.label}}</span>
% include('_time', moment=when.moment)
