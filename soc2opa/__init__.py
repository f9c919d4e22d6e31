"""soc2opa: SOC 2 checks for Terraform plans on AWS, evaluated by Open Policy Agent."""

__version__ = "0.1.0"
