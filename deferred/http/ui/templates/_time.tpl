% if moment is not None:
<time datetime="{{ui.iso_time(moment)}}" title="{{ui.exact_time(moment)}}" data-relative>{{ui.relative_time(moment, now)}}</time>\\
% else:
<span class="muted">—</span>\\
% end
