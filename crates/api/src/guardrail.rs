//! LiteLLM's Generic Guardrail API, as PolicyGate's server answers it: the parts of the
//! call it reads and the answer LiteLLM expects.
//!
//! LiteLLM posts `{texts, input_type, model, request_data: {user_api_key_*},
//! litellm_call_id, additional_provider_specific_params, …}` and reads
//! `{action: NONE | BLOCKED | GUARDRAIL_INTERVENED, blocked_reason?}`. Members this
//! side does not read are ignored, as LiteLLM adds members over its versions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The parts of a LiteLLM guardrail call that PolicyGate reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LiteLlmGuardrailCall {
    /// The texts of the call (prompt parts for `request`, completions for `response`).
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `request` (before the model call) or `response` (after it).
    #[serde(default)]
    pub input_type: Option<String>,
    /// The model the call is for.
    #[serde(default)]
    pub model: Option<String>,
    /// LiteLLM's id of the call.
    #[serde(default)]
    pub litellm_call_id: Option<String>,
    /// The authenticated key's identity, as LiteLLM forwards it.
    #[serde(default)]
    pub request_data: Option<LiteLlmRequestData>,
    /// The guardrail's configured parameters.
    #[serde(default)]
    pub additional_provider_specific_params: Option<Map<String, Value>>,
}

/// The authenticated key's identity in a LiteLLM guardrail call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LiteLlmRequestData {
    /// The key's user.
    #[serde(default)]
    pub user_api_key_user_id: Option<String>,
    /// The key's team.
    #[serde(default)]
    pub user_api_key_team_id: Option<String>,
}

/// What LiteLLM does with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LiteLlmAction {
    /// Let the call through unchanged.
    None,
    /// Refuse the call.
    Blocked,
    /// The guardrail changed the texts (PolicyGate never answers this).
    GuardrailIntervened,
}

/// The answer LiteLLM reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LiteLlmGuardrailAnswer {
    /// What LiteLLM does with the call.
    pub action: LiteLlmAction,
    /// Why the call was blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_serialise_as_litellm_reads_them() {
        let none = LiteLlmGuardrailAnswer {
            action: LiteLlmAction::None,
            blocked_reason: None,
        };
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"action":"NONE"}"#
        );
        let blocked = LiteLlmGuardrailAnswer {
            action: LiteLlmAction::Blocked,
            blocked_reason: Some("why".into()),
        };
        assert_eq!(
            serde_json::to_string(&blocked).unwrap(),
            r#"{"action":"BLOCKED","blocked_reason":"why"}"#
        );
        assert_eq!(
            serde_json::to_string(&LiteLlmAction::GuardrailIntervened).unwrap(),
            r#""GUARDRAIL_INTERVENED""#
        );
    }

    #[test]
    fn calls_ignore_members_this_side_does_not_read() {
        let call: LiteLlmGuardrailCall = serde_json::from_str(
            r#"{"texts":["a"],"input_type":"request","litellm_version":"9",
                "request_data":{"user_api_key_user_id":"u","other":1}}"#,
        )
        .unwrap();
        assert_eq!(call.texts, Some(vec!["a".to_owned()]));
        assert_eq!(
            call.request_data.and_then(|d| d.user_api_key_user_id),
            Some("u".to_owned())
        );
    }
}
