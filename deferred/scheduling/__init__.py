"""When tasks run: submit options, periodic and cron schedules, the scheduler thread."""
