% rebase('layout', title='API tokens', section='tokens')
<section class="card" aria-labelledby="tokens-heading">
  <div class="card-head">
    <h1 id="tokens-heading">API tokens</h1>
    <span class="muted">scripts send one as <code>Authorization: Bearer TOKEN</code></span>
  </div>
  % if new_token:
  <div class="new-token" role="status">
    <p>The token <strong>{{new_name}}</strong> is made. Copy it now: it is shown only this once, and only its hash is kept.</p>
    <p><code class="token-value" id="new-token">{{new_token}}</code></p>
  </div>
  % end
  % if error is not None:
  <p class="error-text" role="alert" id="token-error">error {{int(error.code)}}: {{str(error)}}</p>
  % end
  % if not tokens:
  <p class="empty">No API token yet. Make one below, or add one to config.json with <code>python -m deferred.credentials token</code>.</p>
  % else:
  <div class="table-wrap">
  <table class="records tokens">
    <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Kept in</th><th scope="col">Made</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>
    % for token in tokens:
    <tr data-token="{{token['name']}}">
      <td data-label="Name">{{token['name']}}</td>
      <td data-label="Role">{{token['role']}}</td>
      <td data-label="Kept in">{{token['source']}}</td>
      <td data-label="Made">
      % if token['created_at'] is not None:
% include('_time', moment=token['created_at'])
        <span class="muted">by {{token['created_by']}}</span>
      % else:
        <span class="muted">config.json</span>
      % end
      </td>
      <td data-label="">
      % if token['source'] == 'database':
        <form method="post" action="{{root}}/tokens/{{ui.path_part(token['name'])}}/revoke" class="inline-form">
          <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
          <button type="submit" class="button-small danger" aria-label="Revoke {{token['name']}}">Revoke</button>
        </form>
      % end
      </td>
    </tr>
    % end
    </tbody>
  </table>
  </div>
  % end
</section>
<section class="card" aria-labelledby="new-token-heading">
  <h2 id="new-token-heading">Make a token</h2>
  <form method="post" action="{{root}}/tokens" class="token-form">
    <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
    <div class="field">
      <label for="token-name">Name <span class="muted">(who or what uses it; shown in the audit log)</span></label>
      <input type="text" id="token-name" name="name" value="{{new_name if not new_token else ''}}" maxlength="100" pattern="[A-Za-z0-9._@\-]+" required aria-describedby="token-name-help">
      <p class="help muted" id="token-name-help">letters, digits and . _ @ -</p>
    </div>
    <div class="field">
      <label for="token-role">Role</label>
      <select id="token-role" name="role">
        <option value="read">read: view tasks, results and metrics</option>
        <option value="submit">submit: also launch, cancel and retry</option>
        <option value="admin">admin: also the audit log and tokens</option>
      </select>
    </div>
    <button type="submit" class="primary">Make token</button>
  </form>
  % if not auth_enabled:
  <p class="muted">Auth is off on this server (config.json has no tokens or users): tokens made here are asked for once it is on. See docs/security.md in deferred's repository.</p>
  % end
</section>
