//! `GET /q/{token}`: the QR image of a published code. No login: the 128-bit token in the
//! URL is the credential. Unknown, malformed and forged tokens all get the same bare 404.

use crate::startup::AppState;
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use qrcode::{render::svg, Color, EcLevel, QrCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Pixels per QR module in the PNG, and the quiet zone in modules.
const SCALE: usize = 8;
const QUIET: usize = 4;

#[derive(Deserialize)]
pub struct QrParams {
    /// `png` (default) or `svg`.
    pub format: Option<String>,
}

pub async fn image(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(params): Query<QrParams>,
    headers: HeaderMap,
) -> Response {
    let svg = match params.format.as_deref() {
        None | Some("png") => false,
        Some("svg") => true,
        Some(_) => return not_found(),
    };
    let code = match state.campaigns.code_for_token(&token).await {
        Ok(Some(code)) => code,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "QR lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // The token never changes what it points to, so the image is cacheable for good; the
    // ETag is derived from the token, never from the code.
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(format!("{token}:{svg}").as_bytes()))[..16]
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, cache_headers(&etag)).into_response();
    }
    let Ok(qr) = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (content_type, body) = if svg {
        let image = qr
            .render::<svg::Color>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build();
        ("image/svg+xml", image.into_bytes())
    } else {
        match png(&qr) {
            Ok(bytes) => ("image/png", bytes),
            Err(e) => {
                tracing::error!(error = %e, "PNG encoding failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    };
    let mut response = (StatusCode::OK, cache_headers(&etag), body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn cache_headers(etag: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    h
}

fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "Not found").into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A black-on-white, 1-bit grayscale PNG of the code's modules.
fn png(qr: &QrCode) -> Result<Vec<u8>, png::EncodingError> {
    let width = qr.width();
    let colors = qr.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xFFu8; row_bytes * side];
    for y in 0..width {
        for x in 0..width {
            if colors[y * width + x] != Color::Dark {
                continue;
            }
            for dy in 0..SCALE {
                let py = (y + QUIET) * SCALE + dy;
                for dx in 0..SCALE {
                    let px = (x + QUIET) * SCALE + dx;
                    pixels[py * row_bytes + px / 8] &= !(0x80 >> (px % 8));
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pngs_have_the_signature_and_the_scaled_size() {
        let qr = qrcode::QrCode::new(b"SUMMER-1234").unwrap();
        let bytes = super::png(&qr).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let side = ((qr.width() + 8) * 8) as u32;
        assert_eq!((reader.info().width, reader.info().height), (side, side));
    }
}
