% # A task type's description (its docstring) with its `code` spans as <code>; each part escaped.
% for part in describe.text_parts(text):
%   if part.is_code:
<code>{{part.text}}</code>\\
%   else:
{{part.text}}\\
%   end
% end
