//! A balanced subject × cell matrix: the input of descriptives and pairwise tests.

use crate::error::{Result, StatsError, check_finite};

/// Per-subject cell means of a within-subject design, subject-major: the value of subject `s`
/// in cell `c` is `values[s * n_cells + c]`.
///
/// Built once with [`CellMatrix::new`], which checks the shape and that every value is finite,
/// so the functions that take it need not.
#[derive(Debug, Clone, Copy)]
pub struct CellMatrix<'a> {
    values: &'a [f64],
    n_subjects: usize,
    n_cells: usize,
}

impl<'a> CellMatrix<'a> {
    /// Checks that `values.len() == n_subjects * n_cells`, that there is at least one subject
    /// and one cell, and that no value is NaN or infinite.
    pub fn new(values: &'a [f64], n_subjects: usize, n_cells: usize) -> Result<Self> {
        if n_subjects == 0 {
            return Err(StatsError::TooFew {
                what: "subjects",
                needed: 1,
                got: 0,
            });
        }
        if n_cells == 0 {
            return Err(StatsError::TooFew {
                what: "cells",
                needed: 1,
                got: 0,
            });
        }
        let expected = n_subjects * n_cells;
        if values.len() != expected {
            return Err(StatsError::LengthMismatch {
                what: "cell values",
                expected,
                actual: values.len(),
            });
        }
        check_finite("cell values", values)?;
        Ok(Self {
            values,
            n_subjects,
            n_cells,
        })
    }

    /// Number of subjects (rows).
    pub fn n_subjects(&self) -> usize {
        self.n_subjects
    }

    /// Number of cells (columns).
    pub fn n_cells(&self) -> usize {
        self.n_cells
    }

    /// All values, subject-major.
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// The value of subject `subject` in cell `cell`.
    ///
    /// # Panics
    /// If either index is out of range.
    pub fn get(&self, subject: usize, cell: usize) -> f64 {
        assert!(cell < self.n_cells, "cell index out of range");
        self.values[subject * self.n_cells + cell]
    }

    /// The values of one cell, one per subject.
    ///
    /// # Panics
    /// If `cell` is out of range.
    pub fn column(&self, cell: usize) -> Vec<f64> {
        (0..self.n_subjects).map(|s| self.get(s, cell)).collect()
    }
}
