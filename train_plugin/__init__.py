"""train_plugin"""
