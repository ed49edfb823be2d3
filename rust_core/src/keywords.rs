//! The sixteen keywords, as bits of a `u16` set.
//!
//! The bit order is part of the observation layout (`docs/OBSERVATION.md`):
//! changing it changes `OBS_VERSION`.

/// A set of keywords, one bit each. Plain data: copy it freely.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Keywords(pub u16);

/// One keyword. The discriminant is its bit index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Keyword {
    /// Enemies must attack a non-stealthed Guard creature while one exists.
    Guard = 0,
    /// Takes 1 less damage from any hit above 1.
    Fortify = 1,
    /// Absorbs the first damage instance, then breaks.
    Shield = 2,
    /// Overkill damage dealt while attacking goes to the enemy player.
    Piercing = 3,
    /// May attack the turn it is played.
    Rush = 4,
    /// Any damage it deals in combat to a creature kills that creature.
    Lethal = 5,
    /// Heals 2 at its owner's start of turn.
    Regenerate = 6,
    /// May attack twice per turn.
    Frenzy = 7,
    /// Deals 2 damage to every enemy creature when it dies.
    Volatile = 8,
    /// Its owner heals by the combat damage it deals.
    Lifesteal = 9,
    /// Strikes first in combat; if that kills, there is no counter-attack.
    Quick = 10,
    /// Cannot be targeted by enemy attacks, spells or abilities; lost when it attacks.
    Stealth = 11,
    /// Dies at its owner's end of turn.
    Ephemeral = 12,
    /// May attack any enemy slot, and takes no counter-damage when attacking.
    Ranged = 13,
    /// Deals 2 extra damage when it attacks.
    Charge = 14,
    /// Cancels the first enemy spell or ability that targets it.
    Ward = 15,
}

impl Keyword {
    /// Every keyword, in bit order.
    pub const ALL: [Keyword; 16] = [
        Keyword::Guard,
        Keyword::Fortify,
        Keyword::Shield,
        Keyword::Piercing,
        Keyword::Rush,
        Keyword::Lethal,
        Keyword::Regenerate,
        Keyword::Frenzy,
        Keyword::Volatile,
        Keyword::Lifesteal,
        Keyword::Quick,
        Keyword::Stealth,
        Keyword::Ephemeral,
        Keyword::Ranged,
        Keyword::Charge,
        Keyword::Ward,
    ];

    /// The keyword's name as printed on cards.
    pub const fn name(self) -> &'static str {
        match self {
            Keyword::Guard => "Guard",
            Keyword::Fortify => "Fortify",
            Keyword::Shield => "Shield",
            Keyword::Piercing => "Piercing",
            Keyword::Rush => "Rush",
            Keyword::Lethal => "Lethal",
            Keyword::Regenerate => "Regenerate",
            Keyword::Frenzy => "Frenzy",
            Keyword::Volatile => "Volatile",
            Keyword::Lifesteal => "Lifesteal",
            Keyword::Quick => "Quick",
            Keyword::Stealth => "Stealth",
            Keyword::Ephemeral => "Ephemeral",
            Keyword::Ranged => "Ranged",
            Keyword::Charge => "Charge",
            Keyword::Ward => "Ward",
        }
    }

    /// This keyword alone, as a set.
    pub const fn set(self) -> Keywords {
        Keywords(1 << self as u16)
    }
}

impl Keywords {
    /// The empty set.
    pub const NONE: Keywords = Keywords(0);
    /// Every keyword.
    pub const ALL: Keywords = Keywords(u16::MAX);

    /// Builds a set from a list (usable in `const` card tables).
    pub const fn of(list: &[Keyword]) -> Keywords {
        let mut bits = 0u16;
        let mut i = 0;
        while i < list.len() {
            bits |= 1 << list[i] as u16;
            i += 1;
        }
        Keywords(bits)
    }

    /// True when `k` is in the set.
    #[inline(always)]
    pub const fn has(self, k: Keyword) -> bool {
        self.0 & (1 << k as u16) != 0
    }

    /// The union of two sets.
    #[inline(always)]
    pub const fn union(self, other: Keywords) -> Keywords {
        Keywords(self.0 | other.0)
    }

    /// The set without the members of `other`.
    #[inline(always)]
    pub const fn minus(self, other: Keywords) -> Keywords {
        Keywords(self.0 & !other.0)
    }

    /// True when the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Keyword> {
        Keyword::ALL.into_iter().filter(move |k| self.has(*k))
    }
}

impl std::fmt::Debug for Keywords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(Keyword::name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_the_declared_order() {
        for (i, k) in Keyword::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(k.set().0, 1 << i);
        }
        let s = Keywords::of(&[Keyword::Guard, Keyword::Ward]);
        assert!(s.has(Keyword::Guard) && s.has(Keyword::Ward) && !s.has(Keyword::Rush));
        assert_eq!(s.iter().count(), 2);
        assert_eq!(s.minus(Keyword::Guard.set()), Keyword::Ward.set());
    }
}
