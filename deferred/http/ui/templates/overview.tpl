% rebase('layout', title='Overview', section='overview')
<h1 class="visually-hidden">Overview</h1>
% include('_stats_section')
<div data-live-src="{{root}}/ui/parts/overview">
% include('overview_part')
</div>
