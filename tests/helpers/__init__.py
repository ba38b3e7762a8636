"""What several test modules share: tiny models and images
(`builders`), a tiny pretraining job (`jobs`), image folders on disk
(`folders`), and scripts that the tests run in a fresh process."""
