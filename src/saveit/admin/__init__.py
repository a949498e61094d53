"""Running a restaurant's configuration: the restaurant as one document (seed
files, the demo, the admin API), staff tokens, channel accounts and guests'
notification preferences. The admin routes call these services and nothing else."""
