<span class="{{ui.status_class(status)}}">{{status}}</span>\\
