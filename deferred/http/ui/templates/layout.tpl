<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · deferred</title>
<link rel="stylesheet" href="{{root}}/static/app.css">
<link rel="icon" href="{{root}}/static/favicon.svg" type="image/svg+xml">
<script src="{{root}}/static/live.js" defer></script>
% for script in get('scripts', ()):
<script src="{{root}}/static/{{script}}" defer></script>
% end
</head>
<body>
<header class="topbar">
  <a class="brand" href="{{root}}/">deferred</a>
  % if get('viewer') is not None:
  <nav aria-label="Main">
    <a href="{{root}}/" {{!'aria-current="page"' if get('section') == 'overview' else ''}}>Overview</a>
    <a href="{{root}}/tasks" {{!'aria-current="page"' if get('section') == 'tasks' else ''}}>Tasks</a>
    <a href="{{root}}/servers" {{!'aria-current="page"' if get('section') == 'servers' else ''}}>Servers</a>
    % if get('can_submit'):
    <a href="{{root}}/launch" {{!'aria-current="page"' if get('section') == 'launch' else ''}}>Launch</a>
    % end
    % if get('can_admin'):
    <a href="{{root}}/audit" {{!'aria-current="page"' if get('section') == 'audit' else ''}}>Audit</a>
    <a href="{{root}}/tokens" {{!'aria-current="page"' if get('section') == 'tokens' else ''}}>Tokens</a>
    % end
  </nav>
  % end
  % if get('auth_on') and get('viewer') is not None:
  <form method="post" action="{{root}}/logout" class="session">
    <span class="who">{{viewer.name}} <span class="muted">{{viewer.role.label}}</span></span>
    <input type="hidden" name="{{csrf_field}}" value="{{csrf_token}}">
    <button type="submit" class="button-small">Log out</button>
  </form>
  % end
</header>
<main>
{{!base}}
</main>
</body>
</html>
