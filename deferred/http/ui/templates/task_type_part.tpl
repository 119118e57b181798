% include('stats_part')
