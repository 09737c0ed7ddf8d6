//! The native tray: builds the icon and menu once, keeps the item handles, and copies a
//! `MenuView` onto them (Linux cannot swap a tray menu, only change its items).

use std::sync::Mutex;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Wry};

use crate::menu_model::{ids, Check, Item, MenuView, TrayLook};

pub struct Tray {
    icon: TrayIcon<Wry>,
    status: MenuItem<Wry>,
    toggle: MenuItem<Wry>,
    dashboard: MenuItem<Wry>,
    copy_base_url: MenuItem<Wry>,
    autostart: CheckMenuItem<Wry>,
    open_config: MenuItem<Wry>,
    reload: MenuItem<Wry>,
    quit: MenuItem<Wry>,
    shown: Mutex<Option<MenuView>>,
}

impl Tray {
    pub fn build(app: &AppHandle, view: &MenuView) -> tauri::Result<Tray> {
        let item = |id: &str, item: &Item| {
            MenuItem::with_id(app, id, &item.text, item.enabled, None::<&str>)
        };
        let status = MenuItem::with_id(app, ids::STATUS, &view.status, false, None::<&str>)?;
        let toggle = item(ids::TOGGLE, &view.toggle)?;
        let dashboard = item(ids::DASHBOARD, &view.dashboard)?;
        let copy_base_url = item(ids::COPY_BASE_URL, &view.copy_base_url)?;
        let autostart = CheckMenuItem::with_id(
            app,
            ids::AUTOSTART,
            &view.autostart.text,
            view.autostart.enabled,
            view.autostart.checked,
            None::<&str>,
        )?;
        let open_config = item(ids::OPEN_CONFIG, &view.open_config)?;
        let reload = item(ids::RELOAD, &view.reload)?;
        let quit = item(ids::QUIT, &view.quit)?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &PredefinedMenuItem::separator(app)?,
                &toggle,
                &dashboard,
                &copy_base_url,
                &PredefinedMenuItem::separator(app)?,
                &autostart,
                &open_config,
                &reload,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("switchboard")
            .icon(look_icon(view.look)?)
            .icon_as_template(cfg!(target_os = "macos"))
            .tooltip(&view.tooltip)
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(|app, event| crate::actions::on_menu(app, event.id().as_ref()))
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            toggle,
            dashboard,
            copy_base_url,
            autostart,
            open_config,
            reload,
            quit,
            shown: Mutex::new(Some(view.clone())),
        })
    }

    /// Updates what changed since the last view.
    pub fn apply(&self, view: &MenuView) -> tauri::Result<()> {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let old = shown.as_ref();
        if old.map(|o| &o.status) != Some(&view.status) {
            self.status.set_text(&view.status)?;
        }
        update(&self.toggle, &view.toggle, old.map(|o| &o.toggle))?;
        update(&self.dashboard, &view.dashboard, old.map(|o| &o.dashboard))?;
        update(
            &self.copy_base_url,
            &view.copy_base_url,
            old.map(|o| &o.copy_base_url),
        )?;
        update(
            &self.open_config,
            &view.open_config,
            old.map(|o| &o.open_config),
        )?;
        update(&self.reload, &view.reload, old.map(|o| &o.reload))?;
        update(&self.quit, &view.quit, old.map(|o| &o.quit))?;
        if old.map(|o| &o.autostart) != Some(&view.autostart) {
            self.show_autostart(&view.autostart)?;
        }
        if old.map(|o| o.look) != Some(view.look) {
            self.icon.set_icon_with_as_template(
                Some(look_icon(view.look)?),
                cfg!(target_os = "macos"),
            )?;
        }
        if old.map(|o| &o.tooltip) != Some(&view.tooltip) {
            self.icon.set_tooltip(Some(&view.tooltip))?;
        }
        *shown = Some(view.clone());
        Ok(())
    }
}

impl Tray {
    /// Sets the Launch at Login item, changed or not (a click flips its check mark natively).
    pub fn show_autostart(&self, check: &Check) -> tauri::Result<()> {
        self.autostart.set_text(&check.text)?;
        self.autostart.set_checked(check.checked)?;
        self.autostart.set_enabled(check.enabled)
    }
}

fn update(native: &MenuItem<Wry>, new: &Item, old: Option<&Item>) -> tauri::Result<()> {
    if old != Some(new) {
        native.set_text(&new.text)?;
        native.set_enabled(new.enabled)?;
    }
    Ok(())
}

/// The icon for a look: a black template on macOS (the menu bar tints it), colour elsewhere.
fn look_icon(look: TrayLook) -> tauri::Result<Image<'static>> {
    Image::from_bytes(look_png(look))
}

#[cfg(target_os = "macos")]
fn look_png(look: TrayLook) -> &'static [u8] {
    match look {
        TrayLook::Running => include_bytes!("../../icons/tray/runningTemplate@2x.png"),
        TrayLook::Stopped => include_bytes!("../../icons/tray/stoppedTemplate@2x.png"),
        TrayLook::Error => include_bytes!("../../icons/tray/errorTemplate@2x.png"),
    }
}

#[cfg(windows)]
fn look_png(look: TrayLook) -> &'static [u8] {
    match look {
        TrayLook::Running => include_bytes!("../../icons/tray/running-32.png"),
        TrayLook::Stopped => include_bytes!("../../icons/tray/stopped-32.png"),
        TrayLook::Error => include_bytes!("../../icons/tray/error-32.png"),
    }
}

/// Linux: the indicator scales the icon to the panel; 64 px stays sharp on HiDPI panels.
#[cfg(not(any(target_os = "macos", windows)))]
fn look_png(look: TrayLook) -> &'static [u8] {
    match look {
        TrayLook::Running => include_bytes!("../../icons/tray/running-64.png"),
        TrayLook::Stopped => include_bytes!("../../icons/tray/stopped-64.png"),
        TrayLook::Error => include_bytes!("../../icons/tray/error-64.png"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_look_has_a_decodable_icon() {
        for look in [TrayLook::Running, TrayLook::Stopped, TrayLook::Error] {
            let image = look_icon(look).unwrap();
            assert!(image.width() >= 32 && image.width() == image.height());
        }
    }
}
