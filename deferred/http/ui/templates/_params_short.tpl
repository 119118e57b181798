% # A task type's params in short: `msg* string`, `count integer ≥ 1`, or a note.
% short = describe.params_in_short(item)
% for param in short.params:
<span class="param"><code>{{param.name}}</code>{{'*' if param.required else ''}} <span class="muted">{{param.type_text}}</span></span>
% end
% if short.note:
<span class="muted">{{short.note}}</span>
% end
