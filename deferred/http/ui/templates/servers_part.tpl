% counts = {state: sum(1 for server in servers if server.state == state) for state in ('alive', 'stopping', 'taken_for_dead')}
<section class="card" aria-labelledby="servers-heading">
  <div class="card-head">
    <h1 id="servers-heading">Servers <span class="count">{{len(servers)}}</span></h1>
    <p class="muted server-counts">{{counts['alive']}} alive · {{counts['stopping']}} stopping · {{counts['taken_for_dead']}} taken for dead</p>
  </div>
  % if not servers:
  <p class="empty">No server has a row in the database.</p>
  % else:
  <div class="table-wrap">
  <table class="records servers">
    <thead><tr><th scope="col">Server</th><th scope="col">State</th><th scope="col">Last heartbeat</th><th scope="col">Started</th><th scope="col">Running</th><th scope="col">Pool</th><th scope="col">Version</th></tr></thead>
    <tbody>
    % for server in servers:
    <tr data-server-id="{{server.id}}" data-state="{{server.state.value}}">
      <td data-label="Server"><strong class="server-name">{{server.host}}</strong> <span class="muted">pid {{server.pid}}</span>
        % if server.id == this_server_id:
        <span class="this-server">this one</span>
        % end
        <div><code class="server-id">{{server.id}}</code></div>
      </td>
      <td data-label="State"><span class="badge server-{{server.state.value.replace('_', '-')}}">{{server.state.label}}</span></td>
      <td data-label="Heartbeat">
% include('_time', moment=server.heartbeat_at)
        <div class="muted">{{ui.exact_time(server.heartbeat_at)}}</div>
      </td>
      <td data-label="Started">
% include('_time', moment=server.started_at)
        <div class="muted">{{ui.exact_time(server.started_at)}}</div>
      </td>
      <td class="num" data-label="Running">{{server.running_tasks}}</td>
      <td class="num" data-label="Pool">{{server.pool_size}} worker{{'' if server.pool_size == 1 else 's'}}</td>
      <td data-label="Version">{{server.version}}</td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>
