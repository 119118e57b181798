% rebase('layout', title='Servers', section='servers')
<div data-live-src="{{root}}/ui/parts/servers">
% include('servers_part')
</div>
<p class="muted servers-note">Each server writes its row when it starts and refreshes its heartbeat every <code>db.heartbeat_s</code>; a server stopping has begun its stop and gives its running tasks their grace. One with no heartbeat for longer than <code>db.lease_s</code> is taken for dead (it crashed, was killed or is paused): on PostgreSQL the others run its tasks again, and its row is forgotten after ten leases; on SQLite the next server to start removes it.</p>
