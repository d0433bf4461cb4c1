use serde::{Deserialize, Serialize};

/// What a user or an API key may do. Admins manage integrations, users and API keys;
/// marketers do everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Marketer,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Marketer];

    pub fn parse(input: &str) -> Result<Self, String> {
        match input.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Self::Admin),
            "marketer" => Ok(Self::Marketer),
            _ => Err("Choose a role: admin or marketer.".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Marketer => "marketer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Marketer => "Marketer",
        }
    }

    pub fn is_admin(self) -> bool {
        self == Self::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_case_insensitively_and_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(&role.as_str().to_uppercase()).unwrap(), role);
        }
        assert!(Role::parse("owner").is_err());
    }
}
