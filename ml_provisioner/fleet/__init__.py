"""Many products, many accounts: select configs, then drive CloudFormation in each product's
account concurrently (a bounded pool, a client-side rate limit per account and region). No engine
of our own: every change is a change set CloudFormation carries out."""
