"""WhatsApp: the WhatsApp Business Cloud API (``whatsapp_cloud``) and the simple JSON
webhooks of local WhatsApp gateways (``whatsapp_gateway``). See README.md here."""
