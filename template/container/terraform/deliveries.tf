# Webhook deliveries: which were processed (the duplicate check).

# app/webhook.py claims each delivery id here with a conditional write before
# processing it, so a sender's retry or a replay is acknowledged without running
# again. Records expire after 7 days (TTL).
resource "aws_dynamodb_table" "deliveries" {
  name                        = "${var.project_name}-deliveries"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "delivery_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "delivery_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}
