"""Serving: one request path (frontend.py) for the local server and the AWS Lambda router.

routing (which variant), weights (where the weights live), capture (SageMaker data-capture records), feedback
(ground truth from brokers) and frontend are stdlib + boto3 only, because the Lambda router ships them; the local
server's modules (app, model_host, tf_serving) are the only ones that need FastAPI or TensorFlow. Nothing is
imported here, so importing one module never pulls in another's dependencies.
"""
