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
  <nav aria-label="Main">
    <a href="{{root}}/" {{!'aria-current="page"' if get('section') == 'overview' else ''}}>Overview</a>
    <a href="{{root}}/tasks" {{!'aria-current="page"' if get('section') == 'tasks' else ''}}>Tasks</a>
    <a href="{{root}}/launch" {{!'aria-current="page"' if get('section') == 'launch' else ''}}>Launch</a>
  </nav>
</header>
<main>
{{!base}}
</main>
</body>
</html>
