% rebase('layout', title='Task #' + str(record.id), section='tasks')
<div {{!'' if record.status.is_terminal else 'data-live-src="' + root + '/ui/parts/task/' + str(record.id) + '"'}}>
% include('task_part')
</div>
