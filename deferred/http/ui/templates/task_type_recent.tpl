% include('_records', records=recent, running=False, empty='No task of this type is stored.')
