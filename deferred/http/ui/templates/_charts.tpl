% # The dashboard's charts (see ui/charts.py): `charts`, the `view` they draw and `ranges`.
<div class="charts">
% for chart in charts:
<figure class="chart chart-{{chart.key}}" data-chart="{{chart.key}}">
  <figcaption>{{chart.title}}
    <span class="legend">
    % for kind, label in chart.legend:
    <span class="legend-item"><span class="swatch swatch-{{kind}}"></span>{{label}}</span>
    % end
    </span>
  </figcaption>
  <svg viewBox="0 0 {{chart.width}} {{chart.height}}" role="img" aria-label="{{chart.summary}}">
    <title>{{chart.summary}}</title>
    % for tick in chart.y_ticks:
    <line class="grid" x1="{{chart.left}}" x2="{{chart.left + chart.plot_w}}" y1="{{tick.position}}" y2="{{tick.position}}"></line>
    <text class="axis axis-y" x="{{chart.left - 4}}" y="{{tick.position + 3}}">{{tick.text}}</text>
    % end
    % for tick in chart.x_ticks:
    <text class="axis axis-x" x="{{tick.position}}" y="{{chart.height - 4}}" text-anchor="{{tick.anchor}}">{{tick.text}}</text>
    % end
    % for bar in chart.bars:
    <g class="bar" data-count="{{len(bar.rects)}}"><title>{{bar.title}}</title>
      <rect class="hit" x="{{bar.x}}" y="{{chart.top}}" width="{{bar.width}}" height="{{chart.plot_h}}"></rect>
      % for rect in bar.rects:
      <rect class="fill-{{rect.kind}}" x="{{round(rect.x, 1)}}" y="{{round(rect.y, 1)}}" width="{{round(rect.width, 1)}}" height="{{round(rect.height, 1)}}"></rect>
      % end
    </g>
    % end
    % for line in chart.lines:
    % for points in line.segments:
    <polyline class="line-{{line.kind}}" points="{{points}}"></polyline>
    % end
    % for x, y in line.dots:
    <circle class="dot-{{line.kind}}" cx="{{x}}" cy="{{y}}" r="2.5"></circle>
    % end
    % end
    % if chart.empty:
    <text class="chart-empty" x="{{chart.left + chart.plot_w / 2}}" y="{{chart.top + chart.plot_h / 2}}">{{chart.empty}}</text>
    % end
  </svg>
</figure>
% end
</div>
% if view.catching_up:
<p class="muted">The statistics are still being counted from the tasks stored before; older bars fill in over the next minutes.</p>
% end
