% # The statistics section of a page: its picker (outside the live part, so a choice being
% # made is never swapped away) and the live part, polled every 5 s.
<section class="card" aria-labelledby="stats-heading">
  <div class="card-head"><h2 id="stats-heading">Activity{{' of ' + view.name if view.name and pick_name else ''}}</h2>
% include('_range_picker')
  </div>
  <div data-live-src="{{root}}{{stats_src}}" data-live-every="5">
% include('stats_part')
  </div>
</section>
