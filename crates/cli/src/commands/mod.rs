pub mod run;
pub mod unfold;
pub mod zeros;
