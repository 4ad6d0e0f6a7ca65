"""Built-in optimizer and learning-rate schedule plugins.

An optimizer factory is ``fn(learning_rate, **options) -> tf.keras optimizer`` where
``learning_rate`` is a float or a schedule; a schedule factory is
``fn(learning_rate, **options) -> tf.keras.optimizers.schedules.LearningRateSchedule``.
Register them in ``jacktf_register_optimizers`` / ``jacktf_register_lr_schedules``.
"""
