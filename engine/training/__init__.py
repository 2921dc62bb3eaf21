"""Training: the tf.data batches (`batches`), the fit loop with exact resume (`train`), its
Keras callbacks (`callbacks`: checkpoints, backups, bookkeeping) and learning-rate schedules
(`schedule`), and multi-worker set-up (`distribute`)."""
