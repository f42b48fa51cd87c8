"""The sandbox's own OpenAPI 3.0 document: the contract as it serves it."""

from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/schemas/Error"}
_STATUS = [
    "belum_terverifikasi",
    "terverifikasi",
    "terdisposisi",
    "diproses",
    "ditindaklanjuti",
    "selesai",
    "tertunda",
    "arsip",
    "bukan_wewenang",
    "dihapus",
]


def _resp(desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": desc}
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _resp("error", _ERR) for c in codes}


_IDEM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
_TID = {"name": "tracking_id", "in": "path", "required": True, "schema": {"type": "string"}}

_REPORT_IN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["external_ref", "source_channel", "title", "content"],
    "properties": {
        "external_ref": {"type": "string", "minLength": 1, "maxLength": 64},
        "source_channel": {
            "type": "string",
            "enum": ["email", "sms", "web", "whatsapp", "counter", "other"],
        },
        "classification": {
            "type": "string",
            "enum": ["pengaduan", "aspirasi", "permintaan_informasi"],
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 150},
        "content": {"type": "string", "minLength": 20, "maxLength": 20000},
        "occurred_on": {"type": "string", "format": "date"},
        "location": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "address": {"type": "string"},
                "kelurahan": {"type": "string"},
                "kecamatan": {"type": "string"},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
        },
        "category_id": {"type": "string"},
        "suggested_agency_id": {"type": "string"},
        "anonymous": {"type": "boolean"},
        "confidential": {"type": "boolean"},
        "reporter": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string"},
                "phone": {"type": "string", "pattern": r"^\+62[0-9]{8,13}$"},
                "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
            },
        },
        "attachment_ids": {"type": "array", "items": {"type": "string"}},
        "submitted_at": {"type": "string", "format": "date-time"},
    },
}
_AGENCY = {
    "type": "object",
    "nullable": True,
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
_REPORT = {
    "type": "object",
    "required": ["tracking_id", "status", "created_at"],
    "properties": {
        "tracking_id": {"type": "string"},
        "external_ref": {"type": "string"},
        "status": {"type": "string", "enum": _STATUS},
        "classification": {"type": "string"},
        "category_id": {"type": "string", "nullable": True},
        "agency": _AGENCY,
        "title": {"type": "string"},
        "anonymous": {"type": "boolean"},
        "confidential": {"type": "boolean"},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
    },
}
_CREATED = {
    "type": "object",
    "required": ["tracking_id", "status", "created_at"],
    "properties": {
        "tracking_id": {"type": "string"},
        "status": {"type": "string"},
        "created_at": {"type": "string"},
    },
}
_ITEMS = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "parent_id": {"type": "string", "nullable": True},
                },
            },
        }
    },
}


def openapi_document(base_path: str = "/api/v1") -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "SP4N-LAPOR! integration contract (satukanal sandbox)",
            "version": "1.0.0",
            "description": "The contract satukanal targets; an assumption, see "
            "docs/lapor-contract.md in the satukanal repository.",
        },
        "servers": [{"url": base_path}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "tracking_id": {"type": "string"},
                        "fields": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                }
            },
        },
        "paths": {
            "/oauth/token": {
                "post": {
                    "operationId": "token",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["grant_type", "client_id", "client_secret"],
                                    "properties": {
                                        "grant_type": {
                                            "type": "string",
                                            "enum": ["client_credentials"],
                                        },
                                        "client_id": {"type": "string"},
                                        "client_secret": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _resp(
                            "token",
                            {
                                "type": "object",
                                "properties": {
                                    "access_token": {"type": "string"},
                                    "token_type": {"type": "string"},
                                    "expires_in": {"type": "integer"},
                                },
                            },
                        ),
                        **_errors(400, 401),
                    },
                }
            },
            "/reports": {
                "post": {
                    "operationId": "createReport",
                    "security": secured,
                    "parameters": [_IDEM],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _REPORT_IN}},
                    },
                    "responses": {
                        "201": _resp("created", _CREATED),
                        "200": _resp("replay", _CREATED),
                        **_errors(400, 401, 409, 422, 429),
                    },
                },
                "get": {
                    "operationId": "findReport",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "external_ref",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _resp(
                            "zero or one",
                            {
                                "type": "object",
                                "properties": {"items": {"type": "array", "items": _REPORT}},
                            },
                        ),
                        **_errors(401, 422, 429),
                    },
                },
            },
            "/reports/{tracking_id}": {
                "get": {
                    "operationId": "getReport",
                    "security": secured,
                    "parameters": [_TID],
                    "responses": {"200": _resp("report", _REPORT), **_errors(401, 404, 410, 429)},
                }
            },
            "/reports/{tracking_id}/replies": {
                "post": {
                    "operationId": "addReply",
                    "security": secured,
                    "parameters": [_TID, _IDEM],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["text"],
                                    "properties": {
                                        "text": {"type": "string", "minLength": 1},
                                        "sent_at": {"type": "string", "format": "date-time"},
                                        "resolved": {"type": "boolean", "nullable": True},
                                        "attachment_ids": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp(
                            "reply",
                            {"type": "object", "properties": {"reply_id": {"type": "string"}}},
                        ),
                        "200": _resp("replay"),
                        **_errors(400, 401, 404, 409, 410, 422, 429),
                    },
                }
            },
            "/attachments": {
                "post": {
                    "operationId": "addAttachment",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp(
                            "stored",
                            {
                                "type": "object",
                                "properties": {
                                    "attachment_id": {"type": "string"},
                                    "sha256": {"type": "string"},
                                    "size": {"type": "integer"},
                                },
                            },
                        ),
                        **_errors(400, 401, 413, 415, 422, 429),
                    },
                }
            },
            "/updates": {
                "get": {
                    "operationId": "updates",
                    "security": secured,
                    "parameters": [
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                    ],
                    "responses": {
                        "200": _resp(
                            "events",
                            {
                                "type": "object",
                                "properties": {
                                    "events": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["event_id", "tracking_id", "type", "at"],
                                        },
                                    },
                                    "next_cursor": {"type": "string"},
                                },
                            },
                        ),
                        **_errors(401, 422, 429),
                    },
                }
            },
            "/agencies": {
                "get": {
                    "operationId": "agencies",
                    "security": secured,
                    "responses": {"200": _resp("agencies", _ITEMS), **_errors(401, 429)},
                }
            },
            "/categories": {
                "get": {
                    "operationId": "categories",
                    "security": secured,
                    "responses": {"200": _resp("categories", _ITEMS), **_errors(401, 429)},
                }
            },
        },
    }
