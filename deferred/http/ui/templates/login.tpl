% rebase('layout', title='Log in', section='login')
<section class="card login-card" aria-labelledby="login-heading">
  <h1 id="login-heading">Log in</h1>
  <p class="muted">This server needs a login. Use your user name and password, or an API token.</p>
  % if error is not None:
  <p class="error-text" role="alert" id="login-error">error {{int(error.code)}}: {{str(error)}}</p>
  % end
  <form method="post" action="{{root}}/login" class="login-form">
    <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
    <input type="hidden" name="next" value="{{next_path}}">
    <div class="field">
      <label for="user">User name</label>
      <input type="text" id="user" name="user" value="{{user}}" autocomplete="username" autocapitalize="none" spellcheck="false">
    </div>
    <div class="field">
      <label for="password">Password</label>
      <input type="password" id="password" name="password" autocomplete="current-password">
    </div>
    <details class="token-login">
      <summary>Log in with an API token instead</summary>
      <div class="field">
        <label for="token">API token</label>
        <input type="password" id="token" name="token" autocomplete="off" spellcheck="false">
      </div>
    </details>
    <button type="submit">Log in</button>
  </form>
</section>
