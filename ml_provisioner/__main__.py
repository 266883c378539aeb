from ml_provisioner.cli import run

run()
